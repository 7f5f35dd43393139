// The read engine: compiles a selection over the table-backed types to one SQL
// statement (README, "How the hot reads are answered").
export type { PlanInfo } from './builder.ts';
export { answerCompiledObjects, compiledList, compiledObject, compiledRootField, type RootAnswer } from './compiled.ts';
export { columnValue, compiledConnection, compiledField, pointedRow, relatedList, seenWithin, unionRow, type FieldSql, type UnionBranch } from './fields.ts';
export { derivedModel, historyOf, model } from './datamodel.ts';
export {
  compiledNode,
  prebuiltNode,
  prebuiltOrganization,
  prebuiltOrganizations,
  prebuiltRow,
  prebuiltUser,
  rootPlanners,
  type RootPlanner,
  type RowsWhere,
} from './roots.ts';
export { beforeExecution, engineCounts, keptForResolver, notAsOf, setPlannedReads } from './run.ts';
export { isCompiledStatement, planTogether, statementFor } from './send.ts';
export { JsonText, type PlanRow } from './text.ts';
export { matches, whereSql } from './where.ts';
export { leadNode, leadNodeAsOf, prebuiltNodes, prebuiltNodesAsOf, prebuiltResolutionsAsOf, soleElement, type NodeLead, type NodePosition } from './in-order.ts';
export { compiledNodeRule } from './roots.ts';
export { nodeRowSql, prebuiltNamedRows, type NamedRows } from './named.ts';
