"""The django-plotly-dash routes the Explorer uses, and no others.

``include("django_plotly_dash.urls")`` would also expose ``add_stateless_apps`` (a GET that writes
StatelessApp rows and redirects into admin), the stateful "instance" routes and the standalone Dash
index page. The Explorer is one stateless app embedded in our own page (``{% plotly_direct %}``):
its renderer fetches the layout and the callback graph, posts callback updates, and loads the
component bundles (redirects to static files). Every route needs the dashboard capability.
"""

from django.http import Http404
from django.urls import path
from django.views.decorators.csrf import csrf_exempt
from django_plotly_dash.app_name import main_view_label
from django_plotly_dash.views import (
    component_component_suites,
    component_suites,
    component_suites_build,
    dependencies,
    layout,
    update,
)

from accounts.decorators import capability_required
from accounts.roles import VIEW_DASHBOARD


def _guard(view):
    return capability_required(VIEW_DASHBOARD)(view)


STATELESS = {"stateless": True}
PREFIX = "app/<slug:ident>/"

def _not_served(request, **kwargs):
    raise Http404("The Explorer is at /explorer/")


urlpatterns = [
    # Named only: django-plotly-dash reverses it for the app's base path; the standalone page is not served.
    path(PREFIX, _not_served, STATELESS, name="app-" + main_view_label),
    path(PREFIX + "_dash-layout", _guard(layout), STATELESS, name="app-layout"),
    path(PREFIX + "_dash-dependencies", _guard(dependencies), STATELESS, name="app-dependencies"),
    # Dash's renderer posts JSON without a CSRF token (as django-plotly-dash's own route allows); the
    # callbacks only read, and the session cookie is SameSite=Lax, so no other site can call them as you.
    path(PREFIX + "_dash-update-component", csrf_exempt(_guard(update)), STATELESS, name="app-update-component"),
    path(PREFIX + "_dash-component-suites/<slug:component>/<resource>", _guard(component_suites), STATELESS,
         name="app-component-suites"),
    path(PREFIX + "_dash-component-suites/<slug:component>/<slug:cpe2>/<resource>", _guard(component_suites),
         STATELESS, name="app-component-suites"),
    path(PREFIX + "_dash-component-suites/<slug:component>/<slug:cpe2>/build/<resource>",
         _guard(component_suites_build), STATELESS, name="app-component-suites"),
    path(PREFIX + "_dash-component-suites/<slug:component>/_components/<resource>",
         _guard(component_component_suites), STATELESS, name="app-component-component-suites"),
]
