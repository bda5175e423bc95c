// The rule editor: line numbers beside the text area, error lines marked, links that jump to a line.
(function () {
  document.querySelectorAll(".editor").forEach(function (editor) {
    const gutter = editor.querySelector(".gutter"), text = editor.querySelector("textarea");
    const errors = new Set((editor.dataset.errorLines || "").split(" ").filter(Boolean).map(Number));
    function draw() {
      const count = text.value.split("\n").length;
      let html = "";
      for (let i = 1; i <= count; i++) html += (errors.has(i) ? '<span class="err">' + i + "</span>" : i) + "\n";
      gutter.innerHTML = html;
      gutter.scrollTop = text.scrollTop;
    }
    text.addEventListener("input", draw);
    text.addEventListener("scroll", function () { gutter.scrollTop = text.scrollTop; });
    draw();
    document.querySelectorAll("[data-goto-line]").forEach(function (link) {
      link.addEventListener("click", function (e) {
        e.preventDefault();
        const line = Number(link.dataset.gotoLine), lines = text.value.split("\n");
        const start = lines.slice(0, line - 1).join("\n").length + (line > 1 ? 1 : 0);
        text.focus();
        text.setSelectionRange(start, start + (lines[line - 1] || "").length);
        text.scrollTop = (line - 3) * parseFloat(getComputedStyle(text).lineHeight);
      });
    });
  });
})();
