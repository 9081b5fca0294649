"""Operator commands of this area, added to `flask --app wsgi` by lms.cli.register_cli."""

from __future__ import annotations

import click

COMMANDS: list[click.Command] = []
