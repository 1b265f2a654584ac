(function () {
  "use strict";
  // The any-two-versions picker: pairs come from the JSON element the page embeds;
  // it only ever navigates to a pre-generated diff page of this policy.
  var data = JSON.parse(document.getElementById("pd-pairs").textContent);
  var from = document.getElementById("pd-from");
  var to = document.getElementById("pd-to");
  var go = document.getElementById("pd-go");
  var note = document.getElementById("pd-note");
  var safe = /^diffs\/[0-9]+-[0-9]+\.html$/;
  function target() {
    var href = data.pairs[from.value + "-" + to.value];
    return typeof href === "string" && safe.test(href) ? href : null;
  }
  function update() {
    var href = target();
    go.disabled = href === null;
    if (href !== null) {
      note.textContent = "";
    } else if (Number(from.value) >= Number(to.value)) {
      note.textContent = "Pick an older version first, then a newer one.";
    } else {
      note.textContent = "This pair was not generated: see the list of pairs below.";
    }
  }
  from.addEventListener("change", update);
  to.addEventListener("change", update);
  go.addEventListener("click", function () {
    var href = target();
    if (href !== null) {
      window.location.href = href;
    }
  });
  document.getElementById("pd-picker").hidden = false;
  update();
})();
