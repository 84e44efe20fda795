// Drawn signature mark: pointer events on a canvas, exported as a PNG data URL into the form.
// Without JavaScript the typed mark remains available.
(function () {
  var pad = document.querySelector("[data-signature-pad]");
  if (!pad) return;
  var canvas = pad.querySelector("canvas");
  var output = pad.querySelector("input[name=mark_image]");
  var drawn = document.getElementById("f-mark-drawn");
  var typed = document.getElementById("f-mark-typed");
  var context = canvas.getContext("2d");
  var drawing = false;
  context.lineWidth = 2.5;
  context.lineCap = "round";
  context.strokeStyle = "#1f2933";
  var typedField = document.querySelector("[data-typed-mark]");
  function toggle() {
    pad.hidden = !drawn.checked;
    if (typedField) typedField.hidden = drawn.checked;
  }
  drawn.addEventListener("change", toggle);
  typed.addEventListener("change", toggle);
  toggle();
  function point(event) {
    var box = canvas.getBoundingClientRect();
    return [(event.clientX - box.left) * canvas.width / box.width,
            (event.clientY - box.top) * canvas.height / box.height];
  }
  canvas.addEventListener("pointerdown", function (event) {
    drawing = true;
    canvas.setPointerCapture(event.pointerId);
    var p = point(event);
    context.beginPath();
    context.moveTo(p[0], p[1]);
  });
  canvas.addEventListener("pointermove", function (event) {
    if (!drawing) return;
    var p = point(event);
    context.lineTo(p[0], p[1]);
    context.stroke();
  });
  function finish() {
    if (!drawing) return;
    drawing = false;
    output.value = canvas.toDataURL("image/png");
  }
  canvas.addEventListener("pointerup", finish);
  canvas.addEventListener("pointercancel", finish);
  pad.querySelector("[data-clear]").addEventListener("click", function () {
    context.clearRect(0, 0, canvas.width, canvas.height);
    output.value = "";
  });
})();
