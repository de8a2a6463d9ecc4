"""Storage-array access control as pure logic: ONTAP client matches, export policies, node verdicts."""
