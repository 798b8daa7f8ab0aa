// The report form, enhanced: contact fields only while 实名举报 is chosen, and the error
// summary takes the focus. Without this script the form works the same: every field is
// shown, and the server asks about contact details typed beside 匿名举报.
(function () {
  "use strict";

  function setUp() {
    var form = document.getElementById("report-form");
    var block = document.getElementById("named-fields");
    if (!form || !block) {
      return;
    }
    var note = document.getElementById("anonymous-note");
    var radios = form.querySelectorAll('input[name="identity"]');

    function anonymous() {
      var chosen = form.querySelector('input[name="identity"]:checked');
      return !chosen || chosen.value === "anonymous";
    }

    function typedContact() {
      return Array.prototype.some.call(block.querySelectorAll("input"), function (input) {
        return input.value.trim() !== "";
      });
    }

    // On a page shown again with details typed beside 匿名举报, the block stays in view:
    // the reporter decides (the message at 举报方式 says how); hiding it would hide the values.
    function sync(keepTyped) {
      var hide = anonymous() && !(keepTyped && typedContact());
      block.hidden = hide;
      block.disabled = hide; // a disabled fieldset's inputs are not sent
      if (note) {
        note.hidden = !anonymous();
      }
    }

    Array.prototype.forEach.call(radios, function (radio) {
      radio.addEventListener("change", function () {
        sync(false);
      });
    });
    // Back/forward restores the radios and inputs from the cache: show them as they are.
    window.addEventListener("pageshow", function () {
      sync(true);
    });
    sync(true);

    var summary = document.getElementById("error-summary");
    if (summary) {
      summary.focus();
    }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", setUp);
  } else {
    setUp();
  }
})();
