"""textembed_utils: the engine behind the textembed-book.

Self-supervised contrastive fine-tuning of text embeddings (crops vs dropout vs
masking), evaluation by kNN accuracy, MTEB, layer-wise quality and t-SNE, and
results records that put the paper's numbers beside ours.

The sub-packages follow the paper's concepts:

- ``corpora``     texts and labels (embedded wiki, ICLR, MTEB P2P, your own file)
- ``augment``     cropping and the positive-pair augmentations
- ``models``      encoders, pooling, freezing, random init, the bare embedding layer
- ``training``    InfoNCE loss, schedule, the training loop, checkpoints
- ``evaluation``  encoding, kNN / linear probe, layers, t-SNE, MTEB
- ``results``     JSON records, the paper's numbers, tables, findings and verdicts
- ``profiles``    named parameter sets (tiny, embedded, paper)
"""

import warnings

__version__ = "0.2.0"  # 0.2: the authors' crop strings and last batch (cached models of 0.1 do not match)

# tqdm.auto warns in a kernel without ipywidgets; the book would show it as a stderr block in every chapter.
warnings.filterwarnings("ignore", message="IProgress not found")
