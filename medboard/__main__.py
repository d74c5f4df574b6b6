from medboard.cli.main import run

run()
