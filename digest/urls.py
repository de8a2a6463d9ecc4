from django.urls import path

from digest import views

urlpatterns = [
    path("unsubscribe/<str:token>/", views.unsubscribe, name="digest-unsubscribe"),
    path("preferences/", views.preferences, name="digest-preferences"),
]
