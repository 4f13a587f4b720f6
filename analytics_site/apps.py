from django.contrib.admin.apps import AdminConfig


class AnalyticsAdminConfig(AdminConfig):
    default_site = "analytics_site.admin_site.AnalyticsAdminSite"
