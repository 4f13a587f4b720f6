"""django-plotly-dash's static finders, fixed for WhiteNoise.

WhiteNoise (WHITENOISE_USE_FINDERS) calls ``finder.list(None)``; django-plotly-dash 2.5's finders
add ``None`` to a list there and fail with a TypeError. These subclasses pass an empty list.
"""

from django_plotly_dash import finders


class DashComponentFinder(finders.DashComponentFinder):
    def list(self, ignore_patterns):
        return super().list(list(ignore_patterns or []))


class DashAppDirectoryFinder(finders.DashAppDirectoryFinder):
    def list(self, ignore_patterns):
        return super().list(list(ignore_patterns or []))


class DashAssetFinder(finders.DashAssetFinder):
    def list(self, ignore_patterns):
        return super().list(list(ignore_patterns or []))
