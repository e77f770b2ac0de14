"""A tiny MLServer custom runtime for scripts/test-peers.sh: y = x @ W + b on float32
rows of 4 values (W is 4 x 3, fixed), so that `inferbench run --target` has a real,
cheap OIP model to measure over MLServer's REST and gRPC fronts."""

import numpy as np
from mlserver import MLModel
from mlserver.codecs import NumpyCodec
from mlserver.types import InferenceRequest, InferenceResponse

W = np.arange(12, dtype=np.float32).reshape(4, 3) / 10.0
B = np.array([1.0, -1.0, 0.5], dtype=np.float32)


class Affine(MLModel):
    async def load(self) -> bool:
        return True

    async def predict(self, payload: InferenceRequest) -> InferenceResponse:
        x = NumpyCodec.decode_input(payload.inputs[0]).astype(np.float32).reshape(-1, 4)
        y = x @ W + B
        return InferenceResponse(
            model_name=self.name,
            model_version=self.version,
            outputs=[NumpyCodec.encode_output("output__0", y)],
        )
