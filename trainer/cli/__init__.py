"""The command lines: ``gigpo-train`` (:mod:`.train`), ``gigpo-eval`` (:mod:`.evaluate`) and the quickstart."""
