"""The one look of every figure: a headless backend and the house seaborn theme (imported for its effect)."""
import matplotlib

matplotlib.use("Agg")  # no display on servers or CI
import seaborn as sns  # noqa: E402

sns.set_theme(style="whitegrid", context="notebook", palette="deep")
