"""The server's small self-contained upload page (vanilla JS, posts the raw file to /predict)."""

from __future__ import annotations

INDEX_HTML = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Image classification</title>
<style>
  body { font-family: system-ui, sans-serif; max-width: 42rem; margin: 2rem auto; padding: 0 1rem; }
  img { max-width: 100%; max-height: 18rem; display: block; margin: 1rem 0; }
  table { border-collapse: collapse; width: 100%; }
  td, th { text-align: left; padding: .3rem .5rem; border-bottom: 1px solid #ddd; }
  .error { color: #b00020; }
  .note { color: #555; font-size: .9rem; }
</style>
</head>
<body>
<h1>Image classification</h1>
<p class="note">Model: <b id="model">...</b>. Weights may be random (then the labels are meaningless;
the service is for load testing).</p>
<input type="file" id="file" accept="image/jpeg,image/png">
<img id="preview" alt="" hidden>
<p id="status"></p>
<table id="results" hidden>
  <thead><tr><th>#</th><th>Label</th><th>Class</th><th>Probability</th></tr></thead>
  <tbody></tbody>
</table>
<script>
const statusEl = document.getElementById("status");
const table = document.getElementById("results");
fetch("healthz").then(r => r.json()).then(h => {
  document.getElementById("model").textContent = `${h.model_name} (weights: ${h.weights})`;
}).catch(() => {});
document.getElementById("file").addEventListener("change", async (ev) => {
  const file = ev.target.files[0];
  if (!file) return;
  const preview = document.getElementById("preview");
  preview.src = URL.createObjectURL(file);
  preview.hidden = false;
  statusEl.className = ""; statusEl.textContent = "Classifying...";
  table.hidden = true;
  try {
    const resp = await fetch("predict", {method: "POST", body: file,
      headers: {"Content-Type": file.type || "application/octet-stream"}});
    const body = await resp.json();
    if (!resp.ok) throw new Error(`${resp.status} ${body.error.kind}: ${body.error.message}`);
    const rows = body.top5.map((p, i) => {
      const tr = document.createElement("tr");
      for (const v of [i + 1, p.label, p.class_index, (100 * p.probability).toFixed(2) + " %"]) {
        const td = document.createElement("td"); td.textContent = v; tr.appendChild(td);
      }
      return tr;
    });
    table.tBodies[0].replaceChildren(...rows);
    table.hidden = false;
    statusEl.textContent = `${body.image_width_px}x${body.image_height_px} px, preprocess ` +
      `${body.preprocess_ms.toFixed(1)} ms, inference ${body.inference_ms.toFixed(1)} ms, ` +
      `worker ${body.instance_id}`;
  } catch (err) {
    statusEl.className = "error"; statusEl.textContent = String(err.message || err);
  }
});
</script>
</body>
</html>
"""
