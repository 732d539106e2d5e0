"""Lesson 03, the evaluation stage: metrics, uncertainty, error analysis, behaviour tests,
fairness, explanations, the model card and the threshold widget.

Import the modules qualified (``from mlkit.evaluation import metrics``); heavy libraries
(scikit-learn, fairlearn, shap, mlflow) are imported where they are used.
"""
