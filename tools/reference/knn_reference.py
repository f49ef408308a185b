"""The weighted kNN classifier of solo-learn (solo/utils/knn.py, WeightedKNNClassifier.compute with the
cosine distance), in float64: the reference for vicreg/Training/WeightedKnn.

  python3 knn_reference.py IN OUT K T

IN holds train_x [N, D], train_y [N] (int32), test_x [M, D], test_y [M] (int32). OUT receives votes [M, C]
(the summed exp(similarity / T) per class, C = max label + 1), top1 and top5 (percent, top-k with
k = min(5, C), ranking by torch's sort as solo-learn does).
"""
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, __file__.rsplit("/", 1)[0])
import safetensors_lite  # noqa: E402


def main(path_in, path_out, k, temperature):
    tensors, _ = safetensors_lite.load(path_in)
    train_x = F.normalize(tensors["train_x"].double(), dim=1)
    test_x = F.normalize(tensors["test_x"].double(), dim=1)
    train_y = tensors["train_y"].long()
    test_y = tensors["test_y"].long()
    classes = int(max(train_y.max(), test_y.max())) + 1
    k = min(int(k), train_x.shape[0])
    temperature = float(temperature)
    batch = test_x.shape[0]

    similarities = test_x @ train_x.t()
    similarities, indices = similarities.topk(k, largest=True, sorted=True)
    candidates = train_y.view(1, -1).expand(batch, -1)
    retrieved = torch.gather(candidates, 1, indices)
    one_hot = torch.zeros(batch * k, classes, dtype=torch.float64)
    one_hot.scatter_(1, retrieved.view(-1, 1), 1)
    weights = similarities.div(temperature).exp()
    votes = torch.sum(one_hot.view(batch, -1, classes) * weights.view(batch, -1, 1), 1)
    _, predictions = votes.sort(1, True)
    correct = predictions.eq(test_y.view(-1, 1))
    top1 = correct.narrow(1, 0, 1).sum().item() * 100.0 / batch
    top5 = correct.narrow(1, 0, min(5, classes)).sum().item() * 100.0 / batch
    safetensors_lite.save({"votes": votes, "top1": torch.tensor(top1, dtype=torch.float64),
                           "top5": torch.tensor(top5, dtype=torch.float64)}, path_out)


if __name__ == "__main__":
    main(*sys.argv[1:])
