"""What each student of lesson 1's demo class (coursekit.grading.demo) earns, question by question.

Lesson 1's points: predict 2, perceptron_update 3, train_perceptron 3.
"""

EXPECTED = {
    "ada": {"test_predict": 2, "test_perceptron_update": 3, "test_train_perceptron": 3},
    "ben": {"test_predict": 2, "test_perceptron_update": 0, "test_train_perceptron": 0},
    "cy": {"test_predict": 0, "test_perceptron_update": 0, "test_train_perceptron": 0},
    "dee": {"test_predict": 0, "test_perceptron_update": 3, "test_train_perceptron": 3},
    "eve": {"test_predict": 0, "test_perceptron_update": 0, "test_train_perceptron": 0},
    "gus": {"test_predict": 2, "test_perceptron_update": 3, "test_train_perceptron": 3},
}
TOTALS = {student: sum(scores.values()) for student, scores in EXPECTED.items()}
