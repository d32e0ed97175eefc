/* The job page (admin/leadops/jobrun/change_form.html), live.

   While the job is queued or running, ask its progress JSON once a second and
   update the bar, the status and the read-only fields below it; when it has
   ended, stop and reload once, so every field shows how it ended. Cancel asks
   for a confirmation first. Without JavaScript the page refreshes itself
   (<noscript> meta refresh) and Cancel posts straight away. */
(function () {
  "use strict";

  var POLL_MS = 1000;
  var RETRY_MS = 5000; // after a failed request: keep trying, less often

  var panel = document.getElementById("job-live");
  if (!panel) {
    return;
  }
  var bar = document.getElementById("job-progress");
  var text = document.getElementById("job-progress-text");
  var status = document.getElementById("job-status");
  var cancelForm = document.getElementById("job-cancel-form");
  var cancelling = document.getElementById("job-cancelling");
  var updated = document.getElementById("job-updated");
  var leaving = false; // Cancel was submitted: its answer is the next page, no reload may race it

  if (cancelForm) {
    cancelForm.addEventListener("submit", function (event) {
      if (!window.confirm(cancelForm.dataset.confirm || "Cancel this job?")) {
        event.preventDefault();
      } else {
        leaving = true;
      }
    });
  }

  function setField(name, value) {
    // The admin renders read-only fields as <div class="readonly"> inside .field-<name>.
    var cell = document.querySelector(".field-" + name + " .readonly");
    if (cell) {
      cell.textContent = value;
      cell.style.whiteSpace = "pre-wrap";
    }
  }

  function render(job) {
    if (job.percent === null) {
      bar.removeAttribute("value"); // no total yet: an indeterminate bar
      bar.dataset.percent = "";
    } else {
      bar.value = job.percent;
      bar.dataset.percent = String(job.percent);
    }
    bar.textContent = (job.percent === null ? "?" : job.percent) + "%";
    text.textContent =
      job.done + " / " + (job.total === null ? "?" : job.total) + (job.percent === null ? "" : " (" + job.percent + "%)");
    status.textContent = job.status_display;
    status.dataset.status = job.status;
    if (cancelForm) {
      cancelForm.hidden = !job.can_cancel;
    }
    if (cancelling) {
      cancelling.hidden = !(job.cancel_requested && !job.finished);
    }
    if (updated) {
      updated.textContent = (updated.dataset.label || "updated") + " " + new Date(job.updated_at).toLocaleTimeString();
    }
    setField("status", job.status_display);
    setField("counters", JSON.stringify(job.counters));
    setField("error", job.error || "-");
    setField("log_tail", job.log_tail.join("\n"));
  }

  function poll() {
    if (leaving) {
      return;
    }
    window
      .fetch(panel.dataset.progressUrl, {
        credentials: "same-origin",
        cache: "no-store",
        headers: { Accept: "application/json" },
      })
      .then(function (response) {
        if (!response.ok) {
          throw new Error("progress: HTTP " + response.status);
        }
        return response.json();
      })
      .then(function (job) {
        if (leaving) {
          return;
        }
        var startedSinceLoad = status.dataset.status === "queued" && job.status !== "queued";
        render(job);
        if (job.finished || startedSinceLoad) {
          // Ended: every field shows how. Just started: the heading and "started at" catch up (once).
          panel.dataset.active = String(!job.finished);
          window.location.reload();
        } else {
          window.setTimeout(poll, POLL_MS);
        }
      })
      .catch(function () {
        window.setTimeout(poll, RETRY_MS);
      });
  }

  if (panel.dataset.active === "true") {
    window.setTimeout(poll, POLL_MS);
  }
})();
