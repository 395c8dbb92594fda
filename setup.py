"""The top-level schemas/ and migrations/ folders install inside the package (as service/schemas and
service/migrations), so a wheel works from any folder; pyproject.toml's tables cannot map a folder to a
package name alongside package discovery."""

from setuptools import find_packages, setup

setup(packages=[*find_packages(include=["service*"]), "service.schemas", "service.migrations"],
      package_dir={"service.schemas": "schemas", "service.migrations": "migrations"})
