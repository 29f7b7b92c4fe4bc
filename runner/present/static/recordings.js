// The run page's terminal recordings, played by the asciinema-player (its bundle, loaded
// before this file, defines AsciinemaPlayer). Every [data-cast] element gets a player of the
// cast at that URL, with the markers of data-markers ([seconds into the playback, label], placed
// by the server on the playback whose pauses are shortened to data-idle-limit seconds); each
// button [data-seek-marker] of the same [data-recording] jumps to its marker and plays.
// No inline script: the page's policy is script-src 'self'.
(function () {
  "use strict";
  document.querySelectorAll("[data-cast]").forEach(function (element) {
    var player = AsciinemaPlayer.create(element.dataset.cast, element, {
      markers: JSON.parse(element.dataset.markers || "[]"),
      idleTimeLimit: Number(element.dataset.idleLimit),
      fit: "width",
      preload: true,
    });
    var recording = element.closest("[data-recording]");
    recording.querySelectorAll("[data-seek-marker]").forEach(function (button) {
      button.addEventListener("click", function () {
        player.seek({ marker: Number(button.dataset.seekMarker) }).then(function () {
          player.play();
        });
      });
    });
  });
})();
