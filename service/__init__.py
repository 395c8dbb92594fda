"""hj1321: the receiving service for HJ 1321-2023 mobile-source electronic ledgers."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("hj1321")  # pyproject.toml names it; the package, API and CLI report it
except PackageNotFoundError:  # pragma: no cover - a checkout that was never installed
    __version__ = "0+unknown"
