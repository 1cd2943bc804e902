// SqlWorklist plugin: a "Worklist" entry on the home page of Orthanc Explorer (Orthanc 1.10,
// jQuery Mobile 1.1). Orthanc appends this file to Explorer's scripts. The entry is inserted
// before jQuery Mobile enhances the page, so it gets Explorer's own look.
$('#lookup').live('pagebeforecreate', function() {
  var page = $(this);
  if (page.find('#sql-worklist-entry').length > 0) {
    return;
  }
  var entry = $('<ul>')
    .attr({ 'data-role': 'listview', 'data-inset': 'true', 'id': 'sql-worklist-entry' })
    .append($('<li>').attr('data-icon', 'arrow-r').append(
      $('<a>').attr({ 'href': '../sql-worklist/app/index.html', 'data-ajax': 'false' })
        .append($('<h3>').text('Worklist'))
        .append($('<p>').text('Today\'s items, what the modalities ask, health'))));
  page.find('#lookup-form').before(entry);
});
