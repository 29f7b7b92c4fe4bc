import mlflow
import pandas as pd
from mlflow import MlflowClient
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

data = pd.read_csv("/workspace/train.csv")
fit, val = data.iloc[:300], data.iloc[300:]
model = LogisticRegression(C=1.0).fit(fit[["a", "b"]], fit["y"])
mlflow.set_experiment("lab")
with mlflow.start_run() as run:
    mlflow.log_param("C", 1.0)
    mlflow.log_metric("val_auc", roc_auc_score(val["y"], model.predict_proba(val[["a", "b"]])[:, 1]))
    info = mlflow.sklearn.log_model(model, name="model", registered_model_name="lab-model")
version = info.registered_model_version
MlflowClient().set_registered_model_alias("lab-model", "champion", str(version))
print("registered version", version)
