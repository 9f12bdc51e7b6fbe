// Pipeline board: drag and drop with SortableJS, and the keyboard moves of a card (its
// stage menu, its up/down buttons), all saved through one htmx request per move.
// The htmx "sortable" pattern: the card moves in the page at once, the move is posted
// (stage, the ids of the cards above and below, the card's version, the board filters),
// the answer swaps the column totals, the card and a flash out of band; when the save
// fails (stale version, deleted deal, server or network error) the card goes back.
// Without this script the card's own form posts the same move and the page reloads.
(function () {
  "use strict";
  document.documentElement.classList.add("js");

  var SHOWN_ERRORS = [404, 409, 422]; // answers that carry their own message
  var FILTERS = ["owner", "close_from", "close_to"];
  var saving = {}; // card id -> {list, next, stage, focus}

  function isCard(el) {
    return el && el.classList && el.classList.contains("deal-card");
  }

  function sibling(card, step) {
    var el = step < 0 ? card.previousElementSibling : card.nextElementSibling;
    while (el && !isCard(el)) {
      el = step < 0 ? el.previousElementSibling : el.nextElementSibling;
    }
    return el;
  }

  function firstCard(list) {
    var el = list.firstElementChild;
    while (el && !isCard(el)) { el = el.nextElementSibling; }
    return el;
  }

  function filterValues() {
    var params = new URLSearchParams(window.location.search);
    var out = {};
    FILTERS.forEach(function (key) {
      if (params.get(key)) { out[key] = params.get(key); }
    });
    return out;
  }

  function showError(message) {
    var area = document.getElementById("flash");
    if (!area || !message) { return; }
    var note = document.createElement("div");
    note.className = "flash flash-error";
    note.setAttribute("role", "alert");
    note.textContent = message;
    area.replaceChildren(note);
  }

  function origin(card) {
    return {
      list: card.parentElement,
      next: card.nextElementSibling,
      stage: card.getAttribute("data-stage"),
      select: card.querySelector("select.deal-stage")
    };
  }

  function refocus(card, selector) {
    if (!selector) { return; }
    var el = card.querySelector(selector);
    if (el) { el.focus(); }
  }

  // Post the card's current place (after it was moved in the page).
  function save(card, from, focus) {
    var form = card.querySelector("form.deal-move");
    var list = card.parentElement;
    if (!form || !list) { return; }
    var values = filterValues();
    var above = sibling(card, -1);
    var below = sibling(card, 1);
    values.stage = list.getAttribute("data-stage");
    values.version = form.querySelector("input[name=version]").value;
    values.before = above ? above.getAttribute("data-id") : "";
    values.after = below ? below.getAttribute("data-id") : "";
    from.focus = focus;
    from.target = values.stage;
    saving[card.id] = from;
    card.classList.add("is-saving");
    refocus(card, focus);
    htmx.ajax("POST", form.getAttribute("action"), { source: card, swap: "none", values: values });
  }

  function putBack(card, from) {
    var next = from.next && from.next.parentElement === from.list ? from.next : null;
    from.list.insertBefore(card, next);
    card.setAttribute("data-stage", from.stage);
    if (from.select && card.contains(from.select)) { from.select.value = from.stage; }
  }

  // Refused moves (404, 409, 422) carry a flash and fresh totals: let htmx swap them.
  document.addEventListener("htmx:beforeSwap", function (event) {
    var card = event.detail.elt;
    if (isCard(card) && saving[card.id] && SHOWN_ERRORS.indexOf(event.detail.xhr.status) >= 0) {
      event.detail.shouldSwap = true;
    }
  });

  document.addEventListener("htmx:afterRequest", function (event) {
    var card = event.detail.elt;
    if (!isCard(card) || !saving[card.id]) { return; }
    var from = saving[card.id];
    delete saving[card.id];
    card.classList.remove("is-saving");
    if (event.detail.successful) {
      card.setAttribute("data-stage", from.target);
    } else {
      putBack(card, from);
      var status = event.detail.xhr ? event.detail.xhr.status : 0;
      if (SHOWN_ERRORS.indexOf(status) < 0) {
        showError(document.getElementById("board").getAttribute("data-move-failed"));
      }
    }
    refocus(card, from.focus);
  });

  // Cards loaded by a lazy column page may repeat one moved in meanwhile: keep one.
  document.addEventListener("htmx:afterSwap", function (event) {
    var list = event.detail.target;
    if (!list || !list.classList || !list.classList.contains("deal-list")) { return; }
    var seen = {};
    Array.prototype.slice.call(list.querySelectorAll(".deal-card")).reverse().forEach(function (card) {
      if (seen[card.id]) { card.remove(); } else { seen[card.id] = true; }
    });
  });

  // The stage menu of a card: the card goes to the top of that column.
  document.addEventListener("change", function (event) {
    var select = event.target;
    if (!select.classList || !select.classList.contains("deal-stage")) { return; }
    var card = select.closest(".deal-card");
    var target = document.getElementById("stage-" + select.value + "-cards");
    if (!card || !target || card.classList.contains("is-saving")) { return; }
    var from = origin(card);
    target.insertBefore(card, firstCard(target));
    save(card, from, "select.deal-stage");
  });

  // Move up / move down: past the card above or below in the column shown.
  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("button.deal-up, button.deal-down");
    if (!button) { return; }
    var card = button.closest(".deal-card");
    if (!card) { return; }
    event.preventDefault();
    if (card.classList.contains("is-saving")) { return; }
    var up = button.classList.contains("deal-up");
    var other = sibling(card, up ? -1 : 1);
    if (!other) { return; }
    var from = origin(card);
    card.parentElement.insertBefore(card, up ? other : other.nextElementSibling);
    save(card, from, up ? "button.deal-up" : "button.deal-down");
  });

  function sortable(list) {
    if (list.getAttribute("data-sortable") || !list.closest("[data-can-write]")) { return; }
    list.setAttribute("data-sortable", "1");
    var from = null;
    Sortable.create(list, {
      group: "deals",
      draggable: ".deal-card",
      handle: ".deal-handle",
      filter: ".is-saving",
      forceFallback: true,
      fallbackOnBody: true,
      animation: 120,
      onChoose: function (event) { from = origin(event.item); },
      onEnd: function (event) {
        if (!from || (event.from === event.to && event.oldIndex === event.newIndex)) { return; }
        save(event.item, from, null);
        from = null;
      }
    });
  }

  htmx.onLoad(function (root) {
    var lists = root.classList && root.classList.contains("deal-list") ? [root] : [];
    lists = lists.concat(Array.prototype.slice.call(root.querySelectorAll(".deal-list")));
    lists.forEach(sortable);
  });
})();
