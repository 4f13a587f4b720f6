"""Settings of the predictions (docs/retention-and-predictions.md, docs/configuration.md)."""

from analytics_site.env import env

# The simulator's behaviour: ``linear`` or ``nonlinear`` (thresholds and interactions; the ground truth is in
# docs/retention-and-predictions.md#simulator-ground-truth).
SIMULATOR_BEHAVIOUR = env.str("SIMULATOR_BEHAVIOUR", "linear")
# Bootstrap resamples of the holdout behind every interval and the model choice.
ML_BOOTSTRAP_RESAMPLES = env.int("ML_BOOTSTRAP_RESAMPLES", 200)
