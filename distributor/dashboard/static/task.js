// A task's page: its cancel button (the only thing here that writes, through the journal).
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  for (const button of document.querySelectorAll("button.cancel[data-task]")) {
    button.addEventListener("click", () => {
      const notice = document.getElementById("notice");
      button.disabled = true;
      fetch("cancel", {
        method: "POST",
        headers: { "content-type": "application/json", "x-distributor-dashboard": "cancel" },
        body: JSON.stringify({ names: [button.dataset.task] }),
      }).then((r) => r.json()).then((answer) => {
        notice.textContent = answer.message || answer.error;
      }).catch((error) => { notice.textContent = "cancel failed: " + error; });
    });
  }
});
