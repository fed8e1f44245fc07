# Workflow state is stored on the case (Case.workflow_state); specs on ServiceVersion.spec_state.
