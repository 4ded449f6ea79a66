"""Make the walk-through's inputs: records with IDs, a trained model, three deletion requests.

    python examples/deletion/prepare.py WORKDIR

Writes into WORKDIR (the model owner's project): my_model.py (a copy), data.npz (3,000 training records of Fashion-MNIST with IDs, and 2,000 test
records), model.safetensors (FashionMLP trained by its owner's loop, my_model.fit) and
request-1.txt (150 scattered records), request-2.txt (every record of class Bag),
request-3.txt (100 scattered records, two of which request 1 already deleted).
Fashion-MNIST comes from the Debian package dataset-fashion-mnist (or --data-dir, see the README).
"""

import shutil
import sys
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import save_file

sys.path.insert(0, str(Path(__file__).parent))
from my_model import build, fit  # noqa: E402

from unlearnkit import load_dataset  # noqa: E402  (only to read the Fashion-MNIST files)

work = Path(sys.argv[1] if len(sys.argv) > 1 else "deletion-walkthrough")
work.mkdir(parents=True, exist_ok=True)
shutil.copy(Path(__file__).parent / "my_model.py", work / "my_model.py")  # the owner's project holds its model code
fm = load_dataset("fashion-mnist")
rng = np.random.default_rng(0)
train = np.sort(rng.choice(len(fm.train_y), 3000, replace=False))
test = np.sort(rng.choice(len(fm.test_y), 2000, replace=False))
x, y = fm.train_x[train].numpy(), fm.train_y[train].numpy()          # uint8 (N, 1, 28, 28), labels 0..9
ids = np.array([f"fm-{i:05d}" for i in train])                       # the records' IDs
np.savez(work / "data.npz", x=x, y=y, ids=ids, x_test=fm.test_x[test].numpy(), y_test=fm.test_y[test].numpy(),
         classes=np.array(fm.classes))

torch.manual_seed(0)                                                  # the initialisation
model = fit(build(), torch.from_numpy(x).float() / 255, torch.from_numpy(y))
save_file(model.state_dict(), str(work / "model.safetensors"))

scattered = rng.choice(ids[y != 8], 150, replace=False)
(work / "request-1.txt").write_text("\n".join(scattered) + "\n")
(work / "request-2.txt").write_text("\n".join(ids[y == 8]) + "\n")                     # class 8 = Bag
rest = np.setdiff1d(ids[y != 8], scattered)
(work / "request-3.txt").write_text("\n".join(list(scattered[:2]) + list(rng.choice(rest, 98, replace=False))) + "\n")
with torch.no_grad():
    xt = fm.test_x[test].float() / 255
    acc = (model(xt).argmax(1) == fm.test_y[test]).float().mean().item() * 100
print(f"wrote {work}: 3000 training records, test accuracy {acc:.1f}%")
