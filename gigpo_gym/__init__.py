"""gigpo-gym: text environments for LLM agents; importing this package registers their Gymnasium ids."""

__version__ = "0.1.0"
