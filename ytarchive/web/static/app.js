// YTArchive pages: the token (kept in this browser), archiving a URL, retrying a plan, chapters.
"use strict";

const TOKEN_KEY = "ytarchive-token";

function token() {
  const field = document.getElementById("token");
  return (field && field.value.trim()) || localStorage.getItem(TOKEN_KEY) || "";
}

function showTokenState() {
  const state = document.querySelector(".token-state");
  if (state) state.textContent = localStorage.getItem(TOKEN_KEY) ? "(remembered)" : "(needed to make changes)";
}

async function post(url, body) {
  const headers = { "Content-Type": "application/json" };
  const value = token();
  if (value) headers.Authorization = "Bearer " + value;
  const response = await fetch(url, { method: "POST", headers, body: JSON.stringify(body || {}) });
  const data = await response.json().catch(() => ({ error: response.statusText }));
  if (response.status === 401) {
    const box = document.getElementById("token-box");
    if (box) box.open = true;
  }
  if (!response.ok) throw new Error(data.error || "HTTP " + response.status);
  return data;
}

function setText(el, text, isError) {
  el.hidden = false;
  el.textContent = text;
  el.classList.toggle("job-error", !!isError);
}

async function follow(statusUrl, report) {
  for (;;) {
    const response = await fetch(statusUrl);
    const data = await response.json();
    if (response.ok) report(data);
    const ended = data.finished === undefined ? data.final : data.finished;
    if (!response.ok || ended) return data;
    await new Promise((resolve) => setTimeout(resolve, 1500));
  }
}

function archiveForm() {
  const form = document.getElementById("archive-form");
  if (!form) return;
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const urls = form.urls.value.split(/\n+/).map((s) => s.trim()).filter(Boolean);
    const button = form.querySelector("button[type=submit]");
    const panel = document.getElementById("job");
    const state = document.getElementById("job-state");
    panel.hidden = false;
    button.disabled = true;
    setText(state, "Starting…");
    try {
      const job = await post("/download", { urls, quality: form.quality.value });
      document.getElementById("job-id").textContent = job.job_id.slice(0, 8);
      await follow(job.status_url, (data) => showJob(data, state));
    } catch (error) {
      setText(state, error.message, true);
    } finally {
      button.disabled = false;
    }
  });
}

function showJob(data, state) {
  const counts = Object.entries(data.outcomes || {}).map(([k, v]) => v + " " + k).join(", ");
  const final = data.finished === undefined ? data.final : data.finished;
  setText(state, (data.flow_run_name || "") + ": " + data.state + (counts ? " · " + counts : ""),
          data.state === "Failed" || data.state === "Crashed");
  if (data.progress != null) document.getElementById("job-progress").value = data.progress;
  else if (final) document.getElementById("job-progress").value = 100;
  const list = document.getElementById("job-videos");
  list.replaceChildren(...(data.videos || []).map((v) => {
    const li = document.createElement("li");
    const link = document.createElement("a");
    link.href = "/watch/" + encodeURIComponent(v.video_id);
    link.textContent = v.title || v.video_id;
    const note = document.createElement("span");
    note.className = "status status-" + (v.outcome || "pending");
    note.textContent = v.outcome || v.state;
    li.append(link, note);
    return li;
  }));
}

function retryButtons() {
  document.querySelectorAll("button.retry").forEach((button) => {
    button.addEventListener("click", async () => {
      const status = button.closest(".plan").querySelector(".job-status");
      button.disabled = true;
      setText(status, "Starting a retry…");
      try {
        const job = await post("/recovery/" + encodeURIComponent(button.dataset.plan) + "/retry");
        const end = await follow(job.status_url, (data) => setText(status, "Retry run " + data.flow_run_name + ": " + data.state));
        setText(status, "Retry run " + end.flow_run_name + ": " + end.state + ". Reload to see what is left.");
      } catch (error) {
        setText(status, error.message, true);
        button.disabled = false;
      }
    });
  });
}

function tokenBox() {
  const save = document.getElementById("token-save");
  const forget = document.getElementById("token-forget");
  if (save) save.addEventListener("click", () => {
    const value = document.getElementById("token").value.trim();
    if (value) localStorage.setItem(TOKEN_KEY, value);
    document.getElementById("token").value = "";
    showTokenState();
  });
  if (forget) forget.addEventListener("click", () => { localStorage.removeItem(TOKEN_KEY); showTokenState(); });
  showTokenState();
}

function chapters() {
  const player = document.getElementById("player");
  document.querySelectorAll("button.seek").forEach((button) => {
    button.addEventListener("click", () => {
      if (!player) return;
      player.currentTime = Number(button.dataset.start);
      player.play().catch(() => {});
    });
  });
}

document.addEventListener("DOMContentLoaded", () => {
  tokenBox();
  archiveForm();
  retryButtons();
  chapters();
});
