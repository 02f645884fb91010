/* The site-contents and page-contents buttons of the article's header work on a phone.

   pydata-sphinx-theme (and sphinx-book-theme's wide-screen fix) bind their click handlers
   to the first .primary-toggle and .secondary-toggle of the page: the navbar's, which
   book.css hides with the rest of the theme's header. The buttons a reader sees, in the
   article's header, got no handler and did nothing. Each of them now hands its click to
   the first one, so that the themes' own behaviour runs: a dialog on a narrow screen, a
   collapsing sidebar on a wide one. tests/site taps them at 390 px. */
document.addEventListener("DOMContentLoaded", () => {
  for (const kind of ["primary-toggle", "secondary-toggle"]) {
    const [bound, ...others] = document.querySelectorAll(`.${kind}`);
    for (const button of others) {
      button.addEventListener("click", (event) => {
        event.preventDefault();
        event.stopPropagation();
        bound.click();
      });
    }
  }
});
