// crm-intel pages: progressive enhancement only. Every page works without this file.
"use strict";

function debounce(fn, ms) {
  let timer = null;
  return (...args) => { clearTimeout(timer); timer = setTimeout(() => fn(...args), ms); };
}

function setText(node, text) { node.textContent = text; }

function describeAudience(data) {
  if (data.error) { return data.error; }
  const parts = [`${data.size.toLocaleString()} contacts`,
    `${data.contactable.toLocaleString()} opted in on ${data.channel}`];
  for (const e of data.expected) {
    if (e.precision === null) { continue; }
    parts.push(`expected ${e.model} precision ${Math.round(e.precision * 100)}% (about ${e.expected_hits} of them)`);
  }
  return parts.join(" · ");
}

function wireSegmentBuilder(form) {
  const output = document.getElementById("audience");
  const refresh = debounce(async () => {
    const params = new URLSearchParams(new FormData(form));
    for (const skip of ["csrf", "name", "description"]) { params.delete(skip); }
    try {
      const response = await fetch(`${form.dataset.preview}?${params}`, { headers: { Accept: "application/json" } });
      const data = await response.json();
      setText(output, describeAudience(data));
      output.dataset.size = data.size === undefined ? "" : String(data.size);
    } catch (error) {
      setText(output, "Could not count the audience; try again.");
    }
  }, 250);
  form.addEventListener("input", refresh);
  form.addEventListener("change", refresh);
}

// The page's other sections, fetched again once a job has changed what they show (a new
// champion, a new version), so the page is current without a reload.
async function refreshSections() {
  const response = await fetch(window.location.href, { headers: { Accept: "text/html" } });
  if (!response.ok) { return; }
  const fresh = new DOMParser().parseFromString(await response.text(), "text/html");
  for (const section of fresh.querySelectorAll("section[id]:not(#job)")) {
    const current = document.getElementById(section.id);
    if (current) { current.replaceWith(document.importNode(section, true)); }
  }
}

async function pollJob(box) {
  const url = box.dataset.job;
  const log = box.querySelector("pre");
  const state = box.querySelector(".state");
  const message = box.querySelector(".message");
  for (;;) {
    const response = await fetch(url, { headers: { Accept: "application/json" } });
    if (!response.ok) { setText(state, "lost track of the job"); return; }
    const job = await response.json();
    setText(log, job.output);
    if (message) { setText(message, job.message); }
    if (job.status === "succeeded") { await refreshSections(); }
    setText(state, job.status);
    box.dataset.status = job.status;
    if (job.status !== "running" && job.status !== "queued") { return; }
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

document.addEventListener("DOMContentLoaded", () => {
  const builder = document.getElementById("segment-builder");
  if (builder) { wireSegmentBuilder(builder); }
  for (const box of document.querySelectorAll("[data-job]")) { pollJob(box); }
});
