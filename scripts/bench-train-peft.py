"""LoRA training steps of PyTorch + PEFT (transformers fp32, loaded from a GGUF) on the batch and from the initial
adapters that `mop bench-train --save-batch --save-adapters` wrote, with the learning rates mop stepped with: AdamW
(betas 0.9/0.999, eps 1e-8, no weight decay), gradients clipped to MAX_NORM, the loss the mean NLL over the batch's
masked-in targets. Each row runs forward and backward on its own (no padding: the same tokens as mop's stacked
batch) and the gradients add up over the rows, as gradient accumulation does. Prints one JSON line: every step's
loss and the best time of the steps after the first. Used by scripts/bench-train-vs-peft.sh.
    python3 bench-train-peft.py MODEL.gguf BATCH.json ADAPTER_DIR THREADS DROPOUT MAX_NORM LR...
"""
import json, os, sys, time

import torch
from peft import LoraConfig, get_peft_model, set_peft_model_state_dict
from safetensors.torch import load_file
from transformers import AutoModelForCausalLM

model_path, batch_path, adapter_dir = sys.argv[1:4]
threads, dropout, max_norm = int(sys.argv[4]), float(sys.argv[5]), float(sys.argv[6])
rates = [float(x) for x in sys.argv[7:]]
torch.set_num_threads(threads)
folder, name = os.path.dirname(os.path.abspath(model_path)), os.path.basename(model_path)
model = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name, torch_dtype=torch.float32)
model.config.use_cache = False
saved = json.load(open(os.path.join(adapter_dir, "adapter_config.json")))
model = get_peft_model(model, LoraConfig(r=saved["r"], lora_alpha=saved["lora_alpha"], lora_dropout=dropout,
                                         target_modules=saved["target_modules"], bias="none", task_type="CAUSAL_LM"))
state = load_file(os.path.join(adapter_dir, "adapter_model.safetensors"))
set_peft_model_state_dict(model, state)
# Every trainable tensor must now hold mop's initial values, and every file tensor must have found its place.
trainable = {n: p for n, p in model.named_parameters() if p.requires_grad}
assert len(trainable) == len(state), "PEFT has %d LoRA tensors, mop's file %d" % (len(trainable), len(state))
for n, p in trainable.items():
    assert torch.equal(p.detach(), state[n.replace(".default", "")]), "%s differs from mop's adapter file" % n
model.train()

batch = json.load(open(batch_path))
rows = []
for tokens, mask in zip(batch["tokens"], batch["loss_mask"]):
    labels = [t if m else -100 for t, m in zip(tokens, mask)]
    rows.append((torch.tensor([tokens]), torch.tensor(labels[1:])))
targets = sum(int((labels != -100).sum()) for _, labels in rows)
params = list(trainable.values())
optimizer = torch.optim.AdamW(params, lr=rates[0], betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0)
losses, times = [], []
for rate in rates:
    start = time.perf_counter()
    for group in optimizer.param_groups:
        group["lr"] = rate
    optimizer.zero_grad(set_to_none=True)
    total = 0.0
    for ids, labels in rows:
        logits = model(input_ids=ids).logits[0, :-1]
        loss = torch.nn.functional.cross_entropy(logits, labels, ignore_index=-100, reduction="sum")
        (loss / targets).backward()
        total += loss.item()
    torch.nn.utils.clip_grad_norm_(params, max_norm)
    optimizer.step()
    times.append(time.perf_counter() - start)
    losses.append(total / targets)
print(json.dumps({"losses": losses, "step_seconds": min(times[1:] or times), "tokens": sum(len(t) for t in batch["tokens"]),
                  "targets": targets, "threads": threads, "torch": torch.__version__,
                  "peft": __import__("peft").__version__, "cpu_capability": torch.backends.cpu.get_cpu_capability()}))
