"""The walkthrough runner: executes migration_plan.md's bash blocks in order and checks their evidence.

One runner serves `strangler demo` and tests/e2e: the document is the program, so what a new user reads is
exactly what the kit runs and checks."""
from strangler.walkthrough.document import Step, parse_document
from strangler.walkthrough.runner import RunResult, StepResult, run_walkthrough

__all__ = ["RunResult", "Step", "StepResult", "parse_document", "run_walkthrough"]
