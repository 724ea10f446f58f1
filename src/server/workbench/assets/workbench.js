// oscar workbench: the decision form (posts JSON to the decisions API) and the map's
// zoom, pan and marker highlighting. Plain script, no libraries.
"use strict";

function decisionForm(form) {
  const kinds = form.querySelectorAll('input[name="kind"]');
  const show = () => {
    const kind = form.querySelector('input[name="kind"]:checked');
    form.querySelectorAll("fieldset[data-for]").forEach((f) => { f.hidden = !kind || f.dataset.for !== kind.value; });
  };
  kinds.forEach((k) => k.addEventListener("change", show));
  show();
  form.querySelector("#add-finding").addEventListener("click", () => {
    const first = form.querySelector(".finding");
    const copy = first.cloneNode(true);
    copy.querySelectorAll("textarea").forEach((t) => { t.value = ""; });
    form.querySelector("#findings").appendChild(copy);
    copy.querySelector("textarea").focus();
  });
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const errors = form.querySelector("#decision-errors");
    errors.textContent = "";
    form.querySelectorAll("[aria-invalid]").forEach((e) => e.removeAttribute("aria-invalid"));
    const kind = form.querySelector('input[name="kind"]:checked');
    if (!kind) { errors.textContent = "Choose a decision first."; return; }
    const body = { kind: kind.value };
    const text = (name) => { const e = form.querySelector(`[name="${name}"]`); return e ? e.value.trim() : ""; };
    if (kind.value === "approve_with_conditions") {
      body.conditions = [];
      form.querySelectorAll('input[name="condition"]:checked').forEach((c) => {
        const values = {};
        form.querySelectorAll(`input[data-condition="${c.value}"]`).forEach((v) => { values[v.dataset.value] = v.value; });
        body.conditions.push({ id: c.value, values });
      });
      if (text("free_condition")) body.conditions.push({ text: text("free_condition") });
    }
    if (kind.value === "refuse") {
      body.findings = [];
      form.querySelectorAll(".finding").forEach((f) => {
        const fact = f.querySelector('[name="fact"]').value.trim();
        const evidence = f.querySelector('[name="evidence"]').value.split("\n").map((e) => e.trim()).filter((e) => e);
        if (fact || evidence.length) body.findings.push({ fact, evidence });
      });
      if (text("reasons")) body.reasons = text("reasons");
    }
    if (kind.value === "request_information" && text("information")) body.information = text("information");
    if (text("note")) body.note = text("note");
    const headers = { "content-type": "application/json" };
    const key = (document.cookie.match(/(?:^|; )oscar_key=([^;]*)/) || [])[1];
    if (key) headers.authorization = "Bearer " + decodeURIComponent(key);
    const answer = await fetch(form.dataset.action, { method: "POST", headers, body: JSON.stringify(body) });
    if (answer.status === 201) { location.reload(); return; }
    const problem = await answer.json().catch(() => ({ detail: answer.statusText }));
    const list = document.createElement("ul");
    const head = document.createElement("p");
    head.textContent = `Not recorded (${answer.status}): ${problem.detail || problem.title}`;
    (problem.errors || []).forEach((e) => {
      const li = document.createElement("li");
      li.dataset.pointer = e.pointer;
      li.textContent = `${e.pointer}: ${e.message}`;
      list.appendChild(li);
      const field = e.pointer.split("/")[1];
      const names = { findings: "fact", reasons: "reasons", information: "information", conditions: "free_condition" };
      const target = form.querySelector(`[name="${names[field] || field}"]`);
      if (target) target.setAttribute("aria-invalid", "true");
    });
    errors.append(head, list);
    errors.focus();
  });
}

function map(svg) {
  const start = svg.dataset.viewbox.split(" ").map(Number);
  let box = start.slice();
  const set = () => svg.setAttribute("viewBox", box.map((v) => v.toFixed(1)).join(" "));
  const zoom = (k, cx, cy) => {
    cx = cx === undefined ? box[0] + box[2] / 2 : cx;
    cy = cy === undefined ? box[1] + box[3] / 2 : cy;
    box = [cx - (cx - box[0]) * k, cy - (cy - box[1]) * k, box[2] * k, box[3] * k];
    set();
  };
  const toMap = (event) => {
    const r = svg.getBoundingClientRect();
    return [box[0] + ((event.clientX - r.left) / r.width) * box[2], box[1] + ((event.clientY - r.top) / r.height) * box[3]];
  };
  svg.addEventListener("wheel", (event) => {
    event.preventDefault();
    const [x, y] = toMap(event);
    zoom(event.deltaY < 0 ? 0.8 : 1.25, x, y);
  }, { passive: false });
  let drag = null;
  svg.addEventListener("pointerdown", (event) => { drag = [event.clientX, event.clientY]; svg.setPointerCapture(event.pointerId); });
  svg.addEventListener("pointermove", (event) => {
    if (!drag) return;
    const r = svg.getBoundingClientRect();
    box[0] -= ((event.clientX - drag[0]) / r.width) * box[2];
    box[1] -= ((event.clientY - drag[1]) / r.height) * box[3];
    drag = [event.clientX, event.clientY];
    set();
  });
  svg.addEventListener("pointerup", () => { drag = null; });
  svg.addEventListener("keydown", (event) => {
    const step = { ArrowLeft: [-0.1, 0], ArrowRight: [0.1, 0], ArrowUp: [0, -0.1], ArrowDown: [0, 0.1] }[event.key];
    if (step) { box[0] += step[0] * box[2]; box[1] += step[1] * box[3]; set(); event.preventDefault(); }
    if (event.key === "+" || event.key === "=") zoom(0.8);
    if (event.key === "-") zoom(1.25);
  });
  document.querySelectorAll("[data-zoom]").forEach((b) => b.addEventListener("click", () => {
    if (b.dataset.zoom === "in") zoom(0.8);
    else if (b.dataset.zoom === "out") zoom(1.25);
    else { box = start.slice(); set(); }
  }));
  document.querySelectorAll("[data-marker]").forEach((a) => {
    const marker = document.getElementById(a.dataset.marker);
    const on = () => marker && marker.classList.add("hl");
    const off = () => marker && marker.classList.remove("hl");
    ["mouseenter", "focus"].forEach((e) => a.addEventListener(e, on));
    ["mouseleave", "blur"].forEach((e) => a.addEventListener(e, off));
  });
}

// The sign-in form keeps the key in a cookie the pages read (SameSite=Strict: no other site
// sends it) and opens the page again.
function signIn(form) {
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const key = form.querySelector("#sign-in-key").value.trim();
    document.cookie = `oscar_key=${encodeURIComponent(key)}; Path=/; SameSite=Strict`;
    location.reload();
  });
}

document.addEventListener("DOMContentLoaded", () => {
  const login = document.getElementById("sign-in");
  if (login) signIn(login);
  const form = document.getElementById("decision");
  if (form) decisionForm(form);
  const svg = document.getElementById("map");
  if (svg) map(svg);
});
