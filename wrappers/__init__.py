"""Wrappers between text envs and LLM policies: prompting, action parsing, group vector env."""
