"""hj1321: the receiving service for HJ 1321-2023 mobile-source electronic ledgers."""
