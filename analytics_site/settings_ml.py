"""Settings of the predictions (docs/retention-and-predictions.md, docs/configuration.md)."""

from analytics_site.env import env

# The simulator's behaviour: ``linear`` or ``nonlinear`` (thresholds and interactions; the ground truth is in
# docs/retention-and-predictions.md#simulator-ground-truth).
SIMULATOR_BEHAVIOUR = env.str("SIMULATOR_BEHAVIOUR", "linear")
# Bootstrap resamples of the holdout behind every interval and the model choice.
ML_BOOTSTRAP_RESAMPLES = env.int("ML_BOOTSTRAP_RESAMPLES", 200)
# Customer predictions (purchase / churn in 7 days): GA4's eligibility, at least this many customers with and
# without the outcome over the last 28 days (`make run` lowers them for the demo's few hundred customers).
ML_PREDICTION_MIN_POSITIVES = env.int("ML_PREDICTION_MIN_POSITIVES", 1000)
ML_PREDICTION_MIN_NEGATIVES = env.int("ML_PREDICTION_MIN_NEGATIVES", 1000)
# Weekly cut-offs in a training frame (the newest is the holdout, the one before calibrates).
ML_PREDICTION_WEEKS = env.int("ML_PREDICTION_WEEKS", 8)
# Bounded retraining (ml.bounds): a family fits on at most ML_TRAIN_MAX_ROWS rows and is calibrated and scored on at
# most ML_EVAL_MAX_ROWS validation and holdout rows (seeded uniform samples beyond); a training run (the cart model,
# and the customer predictions apart) is stopped with a clear error past ML_TRAIN_MAX_SECONDS or ML_TRAIN_MAX_MB of
# resident memory.
ML_TRAIN_MAX_ROWS = env.int("ML_TRAIN_MAX_ROWS", 20_000)
ML_EVAL_MAX_ROWS = env.int("ML_EVAL_MAX_ROWS", 10_000)
ML_TRAIN_MAX_SECONDS = env.int("ML_TRAIN_MAX_SECONDS", 900)
ML_TRAIN_MAX_MB = env.int("ML_TRAIN_MAX_MB", 2048)
