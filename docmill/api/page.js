// The status page's script: served as a file of its own, so that the page's Content-Security-Policy can
// forbid every inline script. Everything shown comes from the API and goes in as text, never as markup.
"use strict";
const $ = (id) => document.getElementById(id);
const KEY = "docmill-token";
// The token lives in this tab's session storage, or, when asked to be remembered, in local storage; "Forget
// token" clears both, and what the page showed.
let token = sessionStorage.getItem(KEY) || localStorage.getItem(KEY) || "";
$("token").value = token;
$("remember").checked = Boolean(localStorage.getItem(KEY));
const watching = new Map();  // job id -> the AbortController of its event stream
const explained = new Set();  // finished jobs whose failures are shown
let generation = 0;  // bumped when the page forgets what it showed: answers asked for before are dropped

function say(text) { $("message").textContent = text || ""; }

async function api(path, options = {}) {
  const response = await fetch(path, {...options, cache: "no-store", credentials: "omit", referrerPolicy: "no-referrer",
                                      headers: {...(options.headers || {}), Authorization: "Bearer " + token}});
  if (!response.ok) {
    let text = response.statusText;
    try { text = (await response.json()).error.message; } catch (e) { /* not JSON */ }
    throw new Error(text);
  }
  return response;
}

function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function jobBox(job) {
  let box = $("job-" + job.job);
  if (!box) {
    box = element("div", "job");
    box.id = "job-" + job.job;
    box.append(element("div", "title", job.kind + " " + job.job), element("div", "bar"), element("div", "counts"),
               element("div", "failures"));
    box.querySelector(".bar").append(element("div", "fill"));
    const list = $("jobs");
    if (list.querySelector("p")) list.textContent = "";
    list.prepend(box);
  }
  return box;
}

function show(job) {
  const box = jobBox(job);
  const counts = job.counts || {};
  const total = job.total !== undefined ? job.total : Object.values(counts).reduce((a, b) => a + b, 0);
  const ended = ["done", "skipped", "failed", "deleted"].reduce((sum, s) => sum + (counts[s] || 0), 0);
  const percent = job.finished ? 100 : total ? Math.floor(100 * ended / total) : 0;
  const fill = box.querySelector(".fill");
  fill.style.width = percent + "%";
  fill.dataset.percent = String(percent);
  box.querySelector(".counts").textContent = Object.entries(counts).map(([k, v]) => v + " " + k).join(", ")
    + (job.finished ? " (finished)" : "");
  const id = job.job || job.job_id;
  if (job.finished && (counts.failed || 0) > 0 && !explained.has(id)) {
    explained.add(id);
    showFailures(id);
  }
}

async function showFailures(id) {
  const asked = generation;
  const failed = await (await api("/v1/jobs/" + encodeURIComponent(id) + "?state=failed&limit=50")).json();
  if (asked !== generation) return;
  const box = jobBox({job: id});
  const list = box.querySelector(".failures");
  list.textContent = "";
  for (const item of failed.items) {
    list.append(element("div", "failure", item.doc + ": " + (item.error || "failed") + ": " + (item.reason || "")));
  }
  if (failed.items.length && !box.querySelector("button.retry")) {
    const button = element("button", "retry", "Retry failed");
    button.onclick = async () => {
      try {
        const answer = await (await api("/v1/jobs/" + encodeURIComponent(id) + "/retry", {method: "POST"})).json();
        if (answer.job_id) { await refresh(); watch(answer.job_id); }
      } catch (e) { say(e.message); }
    };
    box.append(button);
  }
}

async function watch(id) {
  if (watching.has(id)) return;
  const stop = new AbortController();
  watching.set(id, stop);
  // fetch, not EventSource: it sends the token in a header
  try {
    const response = await api("/v1/jobs/" + encodeURIComponent(id) + "/events", {signal: stop.signal});
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    let buffer = "";
    for (;;) {
      const {value, done} = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, {stream: true});
      let end;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const data = block.split("\n").filter((l) => l.startsWith("data: ")).map((l) => l.slice(6)).join("\n");
        if (data) { const event = JSON.parse(data); event.job = id; show(event); }
      }
    }
  } catch (e) { if (!stop.signal.aborted) say(e.message); }
}

async function refresh() {
  const asked = generation;
  try {
    const jobs = await (await api("/v1/jobs")).json();
    if (asked !== generation) return;
    for (const job of jobs.slice().reverse()) { show(job); if (!job.finished) watch(job.job); }
    say("");
  } catch (e) { say(e.message); }
}

function forgetShown() {
  generation += 1;
  for (const stop of watching.values()) stop.abort();
  watching.clear();
  explained.clear();
  $("jobs").textContent = "";
  $("jobs").append(element("p", "counts", "No jobs yet."));
  $("hits").textContent = "";
}

$("token-form").onsubmit = (event) => {
  event.preventDefault();
  forgetShown();
  token = $("token").value.trim();
  sessionStorage.setItem(KEY, token);
  if ($("remember").checked) localStorage.setItem(KEY, token); else localStorage.removeItem(KEY);
  refresh();
};

$("remember").onchange = () => {
  if ($("remember").checked && token) localStorage.setItem(KEY, token); else localStorage.removeItem(KEY);
};

$("forget").onclick = () => {
  token = "";
  sessionStorage.removeItem(KEY);
  localStorage.removeItem(KEY);
  $("token").value = "";
  $("remember").checked = false;
  forgetShown();
  say("The token is forgotten on this page and this device.");
};

$("search-form").onsubmit = async (event) => {
  event.preventDefault();
  const hits = $("hits");
  hits.textContent = "";
  const asked = generation;
  try {
    const found = await (await api("/v1/search?k=5&q=" + encodeURIComponent($("query").value))).json();
    if (asked !== generation) return;
    if (!found.length) hits.append(element("p", "counts", "Nothing found."));
    for (const hit of found) {
      const node = element("div", "hit");
      node.append(element("div", "where", hit.doc + (hit.page ? ", page " + hit.page : "") + " (" + hit.score.toFixed(3) + ")"),
                  element("div", "text", hit.text.slice(0, 300)));
      hits.append(node);
    }
  } catch (e) { say(e.message); }
};

if (token) refresh();
setInterval(() => { if (token) refresh(); }, 2000);
