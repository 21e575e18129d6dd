/* The lab's own form in Locust's web UI (served by locustfiles/webui.py).
 *
 * Runs before Locust's app boots (a deferred script placed before the app's module script), so it can adjust
 * window.templateArgs: the header shows the real target URL, users / ramp-up stay disabled (the rate is in
 * the schedule). It then puts the lab's form first on the page: shape, rate, duration, target (the configured
 * targets), model. Start posts the same lab_* fields as the --lab-* options to Locust's own POST /swarm and
 * reloads the page (Locust's app then shows the running test); the form keeps the values Locust keeps in its
 * parsed options. When a test stops, the page links the run's report (/lab/runs/<id>/report.html).
 */
(function () {
  "use strict";

  const lab = window.labArgs || {};
  const args = window.templateArgs || {};
  const RUNNING = ["spawning", "running", "stopping", "cleanup"];
  const RATE_LABEL = {
    ramp: "Peak rate (requests/s; 0 -> peak)",
    constant: "Rate (requests/s)",
    steps: "Peak rate (requests/s; last plateau)",
    spike: "Peak rate (requests/s; the burst)",
    trace: "Peak rate (requests/s; the trace's busiest second)",
  };
  const SHAPE_FIELDS = {
    steps: ["lab_step_count"],
    spike: ["lab_base_rps", "lab_spike_at_s", "lab_spike_s"],
    trace: ["lab_trace"],
  };

  if (lab.url) args.host = lab.url; // Locust's header shows the host: make it the target's real URL
  args.hide_common_options = true; // users / ramp-up: disabled, not required (the shape sets them)

  function el(tag, attrs, children) {
    const node = document.createElement(tag);
    Object.entries(attrs || {}).forEach(([key, value]) => {
      if (key === "text") node.textContent = value;
      else if (value !== undefined && value !== null && value !== false) node.setAttribute(key, value);
    });
    (children || []).forEach((child) => node.appendChild(child));
    return node;
  }

  function field(label, input, hint) {
    const id = "lab-" + input.name;
    input.id = id;
    const parts = [el("label", { for: id, text: label }), input];
    if (hint) parts.push(el("small", { class: "lab-hint", text: hint }));
    return el("div", { class: "lab-field", "data-field": input.name }, parts);
  }

  function numberInput(name, step) {
    const value = lab.values[name];
    const attrs = { name: name, type: "number", min: "0", step: step || "any" };
    return el("input", { ...attrs, value: value === "" ? null : value });
  }

  function textInput(name) {
    return el("input", { name: name, type: "text", value: lab.values[name] });
  }

  function select(name, options, value) {
    const node = el("select", { name: name });
    options.forEach(([optionValue, text]) => {
      node.appendChild(el("option", { value: optionValue, text: text, selected: optionValue === value ? "" : null }));
    });
    return node;
  }

  function targetText(target) {
    if (target.problem) return target.name + " (no URL yet)";
    return target.url ? target.name + " \u2014 " + target.url : target.name;
  }

  function buildMainFields() {
    const shapes = lab.choices.lab_shape.map((name) => [name, name]);
    const targets = lab.targets.map((target) => [target.name, targetText(target)]);
    const model = select("lab_model", (lab.models || []).map((name) => [name, name]), lab.model);
    return [
      field("Shape", select("lab_shape", shapes, lab.values.lab_shape)),
      field(RATE_LABEL[lab.values.lab_shape] || "Rate (requests/s)", numberInput("lab_rate_rps")),
      field("Duration (s)", numberInput("lab_duration_s")),
      field("Target", select("lab_target", targets, lab.values.lab_target), "config/targets.yaml"),
      field("Model (local cloud)", model, "another model restarts the local cloud at Start"),
    ];
  }

  function buildMoreFields() {
    const checked = lab.values.lab_yes_remote ? "" : null;
    const remote = el("input", { name: "lab_yes_remote", type: "checkbox", checked: checked });
    // the Host Locust holds, unless it is the local cloud's (then the target's own URL applies)
    const localHost = lab.targets.some((t) => t.url === lab.host && t.kind.startsWith("local"));
    const host = el("input", { name: "host", type: "url", value: localHost ? "" : lab.host });
    host.placeholder = "https://...";
    return [
      field("Steps (plateaus)", numberInput("lab_step_count", "1")),
      field("Base rate (requests/s)", textInput("lab_base_rps"), "empty: a tenth of the peak"),
      field("Spike at (s)", textInput("lab_spike_at_s"), "empty: half-way"),
      field("Spike length (s)", textInput("lab_spike_s"), "empty: a tenth"),
      field("Trace file", textInput("lab_trace")),
      field("URL of the target", host, "lambda / ec2: empty = config/targets.yaml or its environment variable"),
      field("Allow a non-loopback host", remote),
      field("Max requests in flight", numberInput("lab_max_inflight", "1")),
    ];
  }

  function more(node) {
    node.classList.add("lab-more");
    return node;
  }

  function buildPanel() {
    const form = el("form", { id: "lab-form", novalidate: "" }, [
      el("h2", { text: "Inference load test" }),
      el("div", { class: "lab-grid" }, [...buildMainFields(), ...buildMoreFields().map(more)]),
      el("div", { class: "lab-actions" }, [
        el("button", { id: "lab-start", type: "submit", text: "Start" }),
        el("span", { id: "lab-message", role: "status" }),
      ]),
    ]);
    const status = el("div", { id: "lab-status" });
    return el("section", { id: "lab-panel", "aria-label": "Inference load lab" }, [form, status]);
  }

  function currentTarget(form) {
    return lab.targets.find((t) => t.name === form.elements.lab_target.value) || { kind: "", url: "" };
  }

  function updateVisibility(form) {
    const shape = form.elements.lab_shape.value;
    const remote = !currentTarget(form).kind.startsWith("local");
    const wanted = new Set([...(SHAPE_FIELDS[shape] || []), "lab_max_inflight"]);
    if (remote) ["host", "lab_yes_remote"].forEach((name) => wanted.add(name));
    form.querySelectorAll(".lab-field.lab-more").forEach((node) => {
      node.hidden = !wanted.has(node.dataset.field);
    });
    form.querySelector('[data-field="lab_rate_rps"] label').textContent = RATE_LABEL[shape] || "Rate (requests/s)";
    form.querySelector('[data-field="lab_model"]').hidden = remote || !lab.model;
    const target = currentTarget(form);
    const hint = form.querySelector('[data-field="lab_target"] .lab-hint');
    hint.textContent = target.problem || (target.url ? "sends to " + target.url : "config/targets.yaml");
    hint.classList.toggle("lab-error", Boolean(target.problem));
  }

  function formBody(form) {
    const body = new URLSearchParams();
    const remote = !currentTarget(form).kind.startsWith("local");
    Array.from(form.elements).forEach((input) => {
      if (!input.name || (input.name === "lab_model" && (remote || !lab.model))) return;
      if (input.name === "host" && (!remote || !input.value.trim())) return;
      if (input.type === "checkbox") body.append(input.name, input.checked ? "true" : "false");
      else body.append(input.name, input.value.trim());
    });
    return body;
  }

  async function leftReady() {
    // Locust's runner stays "ready" until the shape's first tick: reload only once the test has begun
    for (let attempt = 0; attempt < 50; attempt += 1) {
      const state = await (await fetch("./lab/state", { cache: "no-store" })).json();
      if (state.state !== "ready" || state.refused) return;
      await new Promise((resolve) => window.setTimeout(resolve, 200));
    }
  }

  async function start(form) {
    const message = document.getElementById("lab-message");
    const model = form.elements.lab_model.value;
    const switching = lab.model && model !== lab.model && !form.elements.lab_model.closest(".lab-field").hidden;
    message.textContent = switching ? "restarting the local cloud with " + model + "\u2026" : "starting\u2026";
    message.className = "";
    const button = document.getElementById("lab-start");
    button.disabled = true; // no second start while this one is on its way
    try {
      const answer = await fetch("./swarm", { method: "POST", body: formBody(form) });
      const data = await answer.json();
      if (!data.success) throw new Error(data.message || "Locust refused the test");
      await leftReady();
      window.location.reload(); // Locust's app then shows the running test
    } catch (error) {
      message.textContent = String(error.message || error);
      message.className = "lab-error";
      button.disabled = false;
    }
  }

  function setDisabled(form, disabled) {
    Array.from(form.elements).forEach((input) => {
      input.disabled = disabled;
    });
  }

  function renderStatus(state) {
    const box = document.getElementById("lab-status");
    const run = state.last_run || {};
    box.replaceChildren();
    if (state.refused) box.appendChild(el("p", { class: "lab-error", text: "Test refused: " + state.refused }));
    if (!run.run_dir) return;
    const running = RUNNING.includes(state.state) && !run.finished;
    const where = (run.target || "") + (run.url ? " (" + run.url + ")" : "");
    box.appendChild(el("p", { text: (running ? "Running: " : "Last run: ") + run.run_dir + " \u2192 " + where }));
    if (run.report_url) {
      const link = el("a", { id: "lab-report-link", href: run.report_url, target: "_blank", rel: "noopener" });
      link.textContent = "Open the report";
      box.appendChild(el("p", {}, [link, el("span", { text: " " + run.report_path })]));
    } else if (run.finished) {
      box.appendChild(el("p", { text: "Writing the report\u2026 (see the Logs tab if it does not appear)" }));
    }
  }

  function applyState(form, state) {
    const running = RUNNING.includes(state.state);
    const run = state.last_run || {};
    // Locust's app shows its start form (state "ready" when it last looked) while a test runs: reload, once a run
    const stale = running && document.querySelector("#root main form");
    if (stale && sessionStorage.getItem("lab-reloaded") !== run.run_dir) {
      sessionStorage.setItem("lab-reloaded", run.run_dir || "");
      window.location.reload();
    }
    document.body.classList.toggle("lab-running", running);
    const noWorkers = state.workers === 0; // a master with no worker connected yet: nothing could send
    setDisabled(form, running);
    const button = document.getElementById("lab-start");
    button.textContent = running ? "Running\u2026" : noWorkers ? "Waiting for workers\u2026" : "Start";
    button.disabled = running || noWorkers;
    renderStatus(state);
    return running || (run.finished && !run.report_url && !state.refused) ? 1000 : 3000;
  }

  function poll(form) {
    fetch("./lab/state")
      .then((answer) => answer.json())
      .then((state) => window.setTimeout(() => poll(form), applyState(form, state)))
      .catch(() => window.setTimeout(() => poll(form), 5000));
  }

  function interceptNew(form) {
    // Locust's "New" opens its own form (users, ramp-up, defaults): use the lab's form, with its values, instead
    document.addEventListener("click", (event) => {
      const button = event.target.closest && event.target.closest("button");
      if (!button || button.closest("#lab-panel") || button.textContent.trim() !== "New") return;
      event.preventDefault();
      event.stopPropagation();
      form.scrollIntoView({ behavior: "smooth" });
      form.elements.lab_shape.focus();
    }, true);
  }

  function place(panel) {
    // right under Locust's header once the app has drawn it (again if the app redraws), else above the app
    const header = document.querySelector("#root header");
    if (header && header.nextSibling !== panel) header.parentNode.insertBefore(panel, header.nextSibling);
    else if (!header && !panel.isConnected) document.body.insertBefore(panel, document.getElementById("root"));
  }

  function mount() {
    const panel = buildPanel();
    place(panel);
    const watch = { childList: true, subtree: true };
    new MutationObserver(() => place(panel)).observe(document.getElementById("root"), watch);
    const form = panel.querySelector("form");
    form.addEventListener("change", () => updateVisibility(form));
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      start(form);
    });
    updateVisibility(form);
    interceptNew(form);
    window.setTimeout(() => poll(form), applyState(form, lab));
  }

  if (lab.values && lab.choices) mount();
})();
