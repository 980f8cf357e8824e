from django.urls import include, path

from . import views

urlpatterns = [
    path("bench/baseline", views.baseline),
    path("bench/drf", views.DrfKeyView.as_view()),
    path("bench/drf/questions", views.DrfQuestionList.as_view()),
    path("bench/drf/next-question", views.DrfNextQuestion.as_view()),
    path("", include("keys_console.urls")),
]
