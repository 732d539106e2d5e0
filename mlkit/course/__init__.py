"""What the course runs on but does not teach: set-up, workspace, runner, processes, CLI."""
