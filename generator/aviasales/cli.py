"""`python -m generator aviasales ...` (scaffold: replaced by the Aviasales work)."""

import typer

app = typer.Typer(help="Aviasales air-fare searches: simulator, proxy and collector.")
