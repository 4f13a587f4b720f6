"""Each feature's settings, kept in a module of its own (``settings_<feature>.py``) and read here."""

from analytics_site.settings_alerts import *  # noqa: F403
from analytics_site.settings_derive import *  # noqa: F403
from analytics_site.settings_experiments import *  # noqa: F403
from analytics_site.settings_ml import *  # noqa: F403
from analytics_site.settings_orders import *  # noqa: F403
from analytics_site.settings_panels import *  # noqa: F403
