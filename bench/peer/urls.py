from django.urls import path

from bench.peer.questions import views

urlpatterns = [
    path("bench/baseline", views.baseline),
    path("bench/bare/questions", views.bare_questions),
    path("bench/drf", views.DrfKeyView.as_view()),
    path("bench/drf/questions", views.DrfQuestionList.as_view()),
    path("bench/drf/next-question", views.DrfNextQuestion.as_view()),
]
