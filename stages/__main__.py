"""`python -m stages <stage>`: one command per DVC stage, composed from the per-stage modules."""
import typer

from stages.classifier import classifier
from stages.compare import compare
from stages.evaluate import evaluate
from stages.fetch import fetch
from stages.generate import generate
from stages.ladder import ladder
from stages.report import report
from stages.toy import toy
from stages.train import train

app = typer.Typer(no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False,
                  help="ganpipe's DVC stages, in pipeline order. Each reads params.yaml; paths come from dvc.yaml.")
for command in (fetch, classifier, ladder, train, generate, evaluate, toy, report):
    app.command()(command)
app.command(help="Not a DVC stage: every experiment side by side -> reports/compare.html and .md.")(compare)

if __name__ == "__main__":
    app()
