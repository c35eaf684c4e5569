META
key;value
description;Appel à solutions 2026 – panel d'habitants du quartier Nord
country;France
unit;Quartier Nord (QN00101M)
instance;2026
num_projects;8
num_votes;24
budget;60000
vote_type;approval
rule;equalshares/add1
date_begin;2026-10-05
date_end;2026-10-18
min_length;1
language;french
currency;EUR
PROJECTS
project_id;cost;votes;name;category
1;18000;13;Aide aux devoirs au collège Jean-Moulin;éducation
2;12500;14;Cordées de la réussite vers les classes prépa;éducation
3;24000;16;Désinsectisation et médiation locataires, bâtiments B et C;cadre de vie
4;8000;11;Jardin partagé rue des Lilas;transition alimentaire
5;15000;8;Atelier vélo solidaire;mobilité
6;9500;8;"Permanence d'accès aux droits; écrivain public";cohésion sociale
7;30000;5;Chantier éducatif de rénovation énergétique;emploi
8;6000;8;Repair café mensuel;économie circulaire
VOTES
voter_id;age;sex;voting_method;vote
1;16-25;F;papier;1,2,4,7
2;16-25;M;internet;1,2,3,4
3;26-40;F;internet;2,4,5,6
4;60+;M;papier;1,3,4,5
5;16-25;F;papier;1,2,4
6;41-60;M;papier;1,2,6
7;41-60;M;papier;3,8
8;41-60;F;internet;3,8
9;41-60;M;papier;1,3,4,7
10;26-40;M;papier;2,3,4,5,7
11;16-25;M;papier;1,2,3
12;16-25;F;internet;1,2,3,5,8
13;41-60;M;papier;5,6
14;41-60;M;internet;1,6,7
15;16-25;M;papier;2,8
16;26-40;F;papier;2,3
17;41-60;M;papier;2,3,5,6,8
18;16-25;M;papier;2,3,4,5,6
19;41-60;F;papier;2,8
20;26-40;M;papier;1,3,4,6
21;26-40;F;internet;1,3,6,8
22;41-60;M;papier;1,2,3,5,7
23;26-40;F;internet;3,4
24;16-25;F;internet;1,3,4,8
