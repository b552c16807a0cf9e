"""Run infrastructure for the Snakefile and rule scripts: what a rule asks for and makes, and
the glue that turns bad input into one line."""
